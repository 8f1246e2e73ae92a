"""The command line's progress display: engine events as tqdm bars and messages."""

from __future__ import annotations

import sys

from semsr_core.events import Event, EventKind


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
        if event.kind is EventKind.PROGRESS:
            self._progress(event.data)
        elif event.kind is EventKind.MESSAGE:
            text = event.data.get("text", "")
            level = event.data.get("level", "info")
            line = f"semsr: {level}: {text}" if level != "info" else f"semsr: {text}"
            if self._bar is not None:
                self._bar.write(line, file=sys.stderr)
            else:
                print(line, file=sys.stderr)

    def _progress(self, data: dict) -> None:
        from tqdm import tqdm

        stage = data.get("stage", "")
        total = data.get("total")
        done = int(data.get("done", 0))
        if self._bar is None or stage != self._stage or done < self._bar.n:
            self.close()
            self._stage = stage
            self._bar = tqdm(total=total, initial=done, desc=stage,
                             unit=data.get("unit", "it"), dynamic_ncols=True, file=sys.stderr)
        bar = self._bar
        if total != bar.total:
            bar.total = total
        postfix = data.get("postfix")
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
