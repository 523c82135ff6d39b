"""Services: the functions that change media, runs and analyses."""
