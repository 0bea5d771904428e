"""The separator port program: ``python -m soundforge.audio.separator``.

One operation, ``separate``, with a map ``{"input": path, "output": folder, "options":
SeparationOptions, "models_dir": path}``. ``output`` may contain ``{model}``, replaced by the
model that actually runs (``auto`` decides between demucs and the embedded engine), which
is how the pipeline lays stems out as ``tracks/<id>/stems/<model>/`` and the CLI as
``DIR/<model>/<track>/``. The reply is a ``SeparationResult`` plus the options as run.

torch and demucs are imported and the embedded engine's model is loaded once, at start
(warm-up), so a job pays no model load; other models stay loaded after their first job
(``Separator`` keeps the two most recently used).
"""

from __future__ import annotations

import os
from typing import Any

import msgspec

from soundforge.audio.port_program import serve
from soundforge.audio.progress import Progress

__all__ = ["main"]


class _SeparateArgs(msgspec.Struct, frozen=True):
    input: str
    output: str
    options: dict[str, Any] = msgspec.field(default_factory=dict)
    models_dir: str | None = None


def main() -> None:
    from soundforge.audio.separation import SeparationOptions, Separator, check_options

    separator = Separator(os.environ.get("SOUNDFORGE_MODELS_DIR"))

    def warm_up() -> None:
        separator.load(SeparationOptions(engine="default"))

    def separate(args: Any, progress: Progress) -> dict[str, Any]:
        request = msgspec.convert(args, _SeparateArgs)
        options = msgspec.convert(request.options, SeparationOptions)
        if request.models_dir and options.models_dir is None:
            options = msgspec.structs.replace(options, models_dir=request.models_dir)
        check_options(options)
        loaded = separator.load(options)
        output = request.output.replace("{model}", loaded.model)
        result = separator.separate(request.input, output, options, progress)
        reply: dict[str, Any] = msgspec.to_builtins(result)
        reply["options"] = msgspec.to_builtins(options)
        return reply

    serve("separator", {"separate": separate}, warm_up=warm_up)


if __name__ == "__main__":
    main()
