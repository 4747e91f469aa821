// Timings the window uses (tests import them rather than repeating numbers).

/** Progress appears only for calls that take longer than this. */
export const PROGRESS_DELAY_MS = 300;
/** How long a Copy button says "Copied". */
export const COPIED_MS = 2000;
/** Instance preview debounce. */
export const PREVIEW_DEBOUNCE_MS = 150;
