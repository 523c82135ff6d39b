/**
 * The profile page's API keys: a "Copy" button for a key just created, and a confirmation before
 * a key is revoked. Without scripts the key stays selectable in its read-only field and the revoke
 * button leads to a confirmation page.
 */

import "./copy-buttons.js";
import { setUpConfirmDialogs } from "./confirm-dialog.js";

setUpConfirmDialogs();
