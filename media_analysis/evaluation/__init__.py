"""Evaluation sets: labelled media run through the normal pipeline to measure each model.

An evaluation ingests every labelled item with the ordinary upload service, waits until every
item's run is final, and then stores, per model and media type, how well the model separated the
real items from the fake ones (`ModelReliability`). The verdict reads the latest of those rows to
weigh and calibrate each model's answer (`media_analysis.verdict`).
"""
