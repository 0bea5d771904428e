"""The music context: tracks, stems and analyses of a user's library (domain logic + SQL).

Phoenix-style context: callers (job workers, the CLI, the web API) use these functions and
never write the SQL themselves. Every function takes an asyncpg connection (or pool) so the
caller decides the transaction, which is how a stage's results and the next stage's job
commit together.
"""

from soundforge.music.events import (
    DuplicateFound,
    Stage,
    StageChanged,
    StageProgress,
    TrackEvent,
    TrackStatusChanged,
    track_topic,
    user_topic,
)

__all__ = [
    "DuplicateFound",
    "Stage",
    "StageChanged",
    "StageProgress",
    "TrackEvent",
    "TrackStatusChanged",
    "track_topic",
    "user_topic",
]
