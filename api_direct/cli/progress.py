"""Live progress of a plan as it runs: a spinner and bar on a terminal, plain lines otherwise."""

from types import TracebackType

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from api_direct.cli.output import Output
from api_direct.deploy.assets import PublishedAsset
from api_direct.deploy.change_sets import ChangeSet
from api_direct.deploy.planner import Step
from api_direct.deploy.stack_events import StackEvent

_STYLES = {"COMPLETE": "green", "FAILED": "red", "IN_PROGRESS": "yellow", "ROLLBACK": "red"}


class ProgressDisplay:
    """An :class:`~api_direct.deploy.executor.Observer` that renders to stderr.

    Stack events are printed as they arrive (time, resource, status, reason); on a
    terminal a bar counts resources settled out of those the change set touches.
    """

    def __init__(self, output: Output, title: str) -> None:
        self._output = output
        self._title = title
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._settled: set[str] = set()

    def __enter__(self) -> "ProgressDisplay":
        if self._output.interactive:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self._output.err,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._title, total=None)
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def step_started(self, step: Step) -> None:
        self._describe(step.describe())
        self._output.debug(f"step: {step.describe()}")

    def asset_published(self, published: PublishedAsset) -> None:
        what = f"uploaded {published.size / 1e6:.1f} MB" if published.uploaded else "already in the bucket"
        self._line(f"  asset {published.key.rsplit('/', 1)[-1][:12]}…  {what}")

    def change_set_ready(self, change_set: ChangeSet) -> None:
        count = len(change_set.changes)
        self._line(f"  change set: {count} resource change(s)" if count else "  change set: no changes")
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=count or None, completed=0)

    def stack_event(self, event: StackEvent) -> None:
        style = next((s for key, s in _STYLES.items() if key in event.status), "white")
        reason = f"  {event.reason}" if event.reason and event.reason != "User Initiated" else ""
        self._line(f"  {event.timestamp:%H:%M:%S}  {event.logical_id:<40} [{style}]{event.status}[/{style}]{reason}")
        if not event.is_stack and event.status.endswith("_COMPLETE") and event.logical_id not in self._settled:
            self._settled.add(event.logical_id)
            if self._progress is not None and self._task is not None:
                self._progress.advance(self._task)

    def note(self, text: str) -> None:
        self._line(escape(text))

    def _describe(self, text: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=text)
        self._line(f"[bold]→[/bold] {text}")

    def _line(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text)
        else:
            self._output.note(text)
