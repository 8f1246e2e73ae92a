"""The Super-resolve panel's running job: Run starts the chosen work in a napari
worker (:class:`~semsr_app.widgets.parts.CancellableWorker`), its events move the
progress bar and the status line, Cancel stops it before the next tile, and the result
becomes a layer (or the files written are opened); errors become notifications.

:class:`RunningJob` is a part (a mixin) of
:class:`~semsr_app.widgets.super_resolve.panel.SuperResolvePanel`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info, show_warning

from semsr_app.jobs import (
    LayerSource,
    SuperResolveSettings,
    super_resolve_files,
    super_resolve_files_on_cluster,
)
from semsr_app.widgets.parts import CancellableWorker, Outcome, run_guarded


def _guarded(work: Any, outcome: Outcome) -> Outcome:
    """The panel's work in the worker (:func:`run_guarded`)."""
    return run_guarded(work, outcome, "choose a smaller tile size, the current slice only, "
                                      "or close other programs")



class RunningJob:
    """Run, Cancel, progress and results of the panel's background job."""

    def run(self) -> None:
        """Start the job chosen in the panel in a background worker."""
        from semsr_core.events import CancelToken

        missing = self._missing()
        if missing:
            self._report_error(missing)
            return
        if self.worker is not None:
            return
        settings = self.settings()
        model = self.zssr_model() if self.zssr_chosen() else self.model_path()
        reference, reference_name = self.reference_image()  # (None, None): not needed
        token = CancelToken()
        outcome = Outcome()
        if self.layer_mode.isChecked():
            source = self._layer_source()
            work = _layer_work(source, model, settings, self._relay.event.emit, token,
                               self.show_map.isChecked(), reference, reference_name)
            self._on_done = self._add_result_layer
            what = f"Super-resolving '{source.name}'"
        else:
            inputs, output = self.input_paths(), self.output_edit.text().strip()
            overwrite = self.overwrite.isChecked()
            cluster = self.cluster_edit.text().strip()

            def work() -> list[Path]:
                if cluster:
                    outcome.files.extend(super_resolve_files_on_cluster(
                        inputs, output, model, settings, cluster, overwrite=overwrite,
                        on_event=self._relay.event.emit, cancel=token, reference=reference))
                    return outcome.files
                for path in super_resolve_files(inputs, output, model, settings,
                                                overwrite=overwrite, reference=reference,
                                                on_event=self._relay.event.emit,
                                                cancel=token):
                    outcome.files.append(path)
                return outcome.files

            self._on_done = self._files_written
            what = f"Super-resolving {len(inputs)} input(s) into {output}" + (
                f" on the cluster '{cluster}'" if cluster else "")
        self._cancel_token = token
        self._delivered = False
        self._file_prefix = ""
        self.worker = create_worker(_guarded, work, outcome, _start_thread=False,
                                    _worker_class=CancellableWorker, cancel_token=token)
        self.worker.returned.connect(self._on_returned)
        self.worker.errored.connect(self._on_crashed)
        self.worker.finished.connect(self._on_finished)
        self._set_running(True)
        self._set_status(f"{what}…")
        self.worker.start()

    def cancel(self) -> None:
        """Stop the running job before its next tile; nothing partial is added or written."""
        if self._cancel_token is not None:
            self._cancel_token.cancel()
            self.cancel_button.setEnabled(False)
            self._set_status("Cancelling after the current tile…")

    def _set_running(self, running: bool) -> None:
        for box in (self.layer_box, self.files_box, self.model_combo, self.device_combo,
                    self.tile_combo, self.precision_combo, self.output_type_combo,
                    self.guard_combo, self.clean_variant, self.show_map, self.adapt_spin,
                    self.self_ensemble,
                    self.zssr_box,
                    self.reference_box,
                    self.layer_mode, self.files_mode):
            box.setEnabled(not running)
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.progress.setRange(0, 0)  # busy until the engine says how many tiles
            self.progress.setFormat("%p%")
        else:
            self._on_mode_changed()
            self._on_model_changed()

    def _on_event(self, event: Any) -> None:
        from semsr_core.events import Message, Progress

        payload = event.payload
        if isinstance(payload, Progress):
            done, total = int(payload.done or 0), int(payload.total or 0)
            unit = payload.unit
            units = unit if unit in ("s", "") else f"{unit}s"  # "s" is seconds
            if total > 0:  # from the stage's first event (done 0): "0 of 4 tiles"
                self.progress.setRange(0, total)
                self.progress.setValue(min(done, total))
                self.progress.setFormat(f"%v of %m {units}" if unit else "%v of %m")
            text = (f"{payload.stage}: {done}/{total} {units}"
                    + (f", {payload.postfix}" if payload.postfix else ""))
            if self._cancel_token is not None and self._cancel_token.cancelled:
                text = "Cancelling after the current tile or training step…"
            self._set_status(f"{self._file_prefix}{text}")
        elif isinstance(payload, Message):
            text = str(payload.text)
            if payload.level == "warning":
                show_warning(text)
            elif text.startswith("file "):
                self._file_prefix = f"{text} — "
            self._set_status(text)

    def _on_returned(self, outcome: Outcome) -> None:
        self._delivered = True
        if outcome.cancelled:
            kept = (f"; the {len(outcome.files)} file(s) finished before are kept"
                    if outcome.files else "; nothing was added")
            self._report_info(f"Super-resolve cancelled{kept}.")
        elif outcome.error:
            self._report_error(outcome.error)
        else:
            self._on_done(outcome)

    def _add_result_layer(self, outcome: Outcome) -> None:
        (data, kwargs, _kind), maps = outcome.value
        for map_data, map_kwargs, _ in maps:  # below the result, over the source
            self.viewer.add_image(map_data, **map_kwargs)
        layer = self.viewer.add_image(data, **kwargs)
        if data.size:  # the slider spans the data, the limits start at its percentiles
            low, high = float(data.min()), float(data.max())
            if high > low:
                layer.contrast_limits_range = (low, high)
                layer.contrast_limits = kwargs["contrast_limits"]
        from semsr_core.infer.self_check import note_of

        note = note_of(kwargs["metadata"]["provenance"].get("consistency"))
        self._report_info(f"Added '{layer.name}' ({' × '.join(map(str, data.shape))} pixels)."
                          + (f" {note}" if note else ""))

    def _files_written(self, outcome: Outcome) -> None:
        from semsr_app.reader import stack_layer_data
        from semsr_core.errors import SemsrError

        if self.open_results.isChecked():
            for path in outcome.files:
                try:
                    data, kwargs, _ = stack_layer_data(path)
                except SemsrError as exc:
                    self._report_error(str(exc))
                    continue
                self.viewer.add_image(data, **kwargs)
        folder = outcome.files[0].parent if outcome.files else self.output_edit.text()
        self._report_info(f"Wrote {len(outcome.files)} file(s) to {folder}.")

    def _on_crashed(self, exc: BaseException) -> None:
        self._delivered = True
        # napari's worker already shows the error (with its traceback) as a notification.
        self._set_status(f"Failed: {type(exc).__name__}: {exc}")

    def _on_finished(self) -> None:
        if not self._delivered and self._cancel_token is not None:
            # quit() (napari closing) suppresses the returned signal: the job was cancelled
            self._report_info("Super-resolve cancelled; nothing was added.")
        self.worker = None
        self._cancel_token = None
        self._set_running(False)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        self._update_ready()

    # ------------------------------------------------------------------ messages
    def _set_status(self, text: str) -> None:
        self.status.setProperty("semsr_hint", False)
        self.status.setText(text)

    def _report_error(self, text: str) -> None:
        self._set_status(f"Error: {text}")
        show_error(text)

    def _report_info(self, text: str) -> None:
        self._set_status(text)
        show_info(text)



def _layer_work(source: LayerSource, model: Any, settings: SuperResolveSettings,
                on_event: Any, cancel: Any, with_map: bool = True, reference: Any = None,
                reference_name: str | None = None) -> Any:
    """The layer job: the result's layer data and the disagreement map's (a list).
    ``reference``: the image a reference-based model (MASA-SR) takes, recorded in the
    result's provenance as ``reference_name``."""
    from semsr_app.jobs import super_resolve_layer

    def work() -> Any:
        maps: list = []
        result = super_resolve_layer(source, model, settings, on_event=on_event,
                                     cancel=cancel, disagreement=maps if with_map else None,
                                     reference=reference)
        recorded = result[1]["metadata"]["provenance"]["settings"]
        zssr = getattr(model, "card", None) and model.card.training.get("zssr")
        if zssr:  # a ZSSR run: what it trained with, as the files' metadata has it
            recorded["zssr"] = dict(zssr)
        if reference_name is not None:  # as `semsr super-resolve --reference` records it
            recorded["reference"] = reference_name
        return result, maps

    return work
