"""The agents' errors: each a SoundForgeError with the HTTP status a user sees and one
sentence saying what to do."""

from __future__ import annotations

from soundforge.errors import SoundForgeError

__all__ = [
    "AgentError",
    "ConversationNotFound",
    "InvalidProposal",
    "InvalidToolInput",
    "ProposalConflict",
    "ProposalNotFound",
    "StructuredOutputInvalid",
    "ToolRoundsExceeded",
    "TrackRequired",
    "UnknownAgent",
]


class AgentError(SoundForgeError):
    """Base of the agents' errors."""


class UnknownAgent(AgentError):
    status = 404
    exit_code = 66


class TrackRequired(AgentError):
    """A chat with an agent that works on one track, without a track."""

    status = 422
    exit_code = 65


class ConversationNotFound(AgentError):
    """A conversation that does not exist or is another user's (the same to a caller)."""

    status = 404
    exit_code = 66


class ProposalNotFound(AgentError):
    status = 404
    exit_code = 66


class ProposalConflict(AgentError):
    """The proposal was already confirmed or dismissed, or no longer fits the track."""

    status = 409
    exit_code = 75


class InvalidProposal(AgentError):
    """A proposal the model made that cannot be stored (sent back to it as a tool error)."""

    status = 422
    exit_code = 65


class InvalidToolInput(AgentError):
    """A tool call whose input does not match its schema (sent back to the model)."""

    status = 422
    exit_code = 65


class StructuredOutputInvalid(AgentError):
    """The model's structured reply failed validation, also after one repair turn."""

    status = 502
    exit_code = 76


class ToolRoundsExceeded(AgentError):
    """The model kept calling tools past the agent's bound on rounds."""

    status = 502
    exit_code = 76
