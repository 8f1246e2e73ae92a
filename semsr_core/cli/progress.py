"""The command line's progress display: engine events as tqdm bars and messages."""

from __future__ import annotations

import sys

from semsr_core.events import Event, Message, Progress


class ProgressPrinter:
    """Renders engine events on the terminal: a tqdm bar per stage, messages above it.

    A stage's bar is made from its first PROGRESS event (the engine sends ``done`` 0
    when a stage starts, so the bar's clock and rate start with the work) and is kept
    while the stage goes on, even when its ``total`` grows (training counts the whole
    run). A stage that starts again (``done`` going back) gets a new bar. Progress is
    added with ``update`` so that tqdm measures a real rate; a first event that already
    has ``done`` > 0 becomes the bar's ``initial`` and is left out of the rate.
    """

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self._bar = None
        self._stage = None

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        payload = event.payload
        if isinstance(payload, Progress):
            self._progress(payload)
        elif isinstance(payload, Message):
            level = payload.level
            line = f"semsr: {level}: {payload.text}" if level != "info" else \
                f"semsr: {payload.text}"
            if self._bar is not None:
                self._bar.write(line, file=sys.stderr)
            else:
                print(line, file=sys.stderr)

    def _progress(self, progress: Progress) -> None:
        from tqdm import tqdm

        stage = progress.stage
        total = progress.total
        done = int(progress.done)
        if self._bar is None or stage != self._stage or done < self._bar.n:
            self.close()
            self._stage = stage
            self._bar = tqdm(total=total, initial=done, desc=stage,
                             unit=progress.unit or "it", dynamic_ncols=True, file=sys.stderr)
        bar = self._bar
        if total != bar.total:
            bar.total = total
        postfix = progress.postfix
        if postfix:
            bar.set_postfix_str(str(postfix), refresh=False)
        if done > bar.n:
            bar.update(done - bar.n)
        else:
            bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._stage = None


# --------------------------------------------------------------------- commands
