"""soundforge.llm: language-model providers, sealed keys, clients, the router and the registry.

The public surface is re-exported here (``docs/llm.md`` is the guide):

* the neutral request and stream types (``messages.py``) and :func:`stream_chat`, the
  router (``router.py``) that A's agents call for one model turn;
* the errors (``errors.py``), each a sentence saying what to do;
* providers in the database (``providers.py``) and from the environment
  (``environment.py``), their API keys sealed with AES-256-GCM (``keys.py``);
* the :class:`ModelRegistry` actor (``registry.py``) with model capabilities
  (``capabilities.py``) and provider health, and health checks (``health.py``).

The two clients (``_anthropic.py`` over the official SDK, ``_openai.py`` over httpx for
OpenAI, Ollama and LM Studio) are private: callers go through the router.
"""

from soundforge.llm._client import ClientOptions
from soundforge.llm.capabilities import ModelInfo
from soundforge.llm.errors import (
    AllProvidersFailed,
    InvalidProvider,
    KeyUnavailable,
    LlmError,
    NoCapableProvider,
    NoProviderConfigured,
    ProviderFailure,
    ProviderNameTaken,
    ProviderNotFound,
    RegistryNotRunning,
    StreamInterrupted,
)
from soundforge.llm.health import CheckResult, check_all, check_provider, check_target
from soundforge.llm.keys import Keyring, SealedKey, rotate
from soundforge.llm.messages import (
    FEATURES,
    Block,
    ChatRequest,
    Finished,
    Message,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolCall,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
)
from soundforge.llm.providers import (
    NewProvider,
    Provider,
    ProviderChanges,
    Target,
    all_enabled_targets,
    create_provider,
    delete_provider,
    get_provider,
    get_target,
    list_providers,
    list_system_providers,
    reseal,
    update_provider,
)
from soundforge.llm.registry import (
    DEFAULT_NAME,
    Health,
    LlmContext,
    LlmOptions,
    ModelRegistry,
    llm_context,
)
from soundforge.llm.router import chain, stream_chat

__all__ = [
    "DEFAULT_NAME",
    "FEATURES",
    "AllProvidersFailed",
    "Block",
    "ChatRequest",
    "CheckResult",
    "ClientOptions",
    "Finished",
    "Health",
    "InvalidProvider",
    "KeyUnavailable",
    "Keyring",
    "LlmContext",
    "LlmError",
    "LlmOptions",
    "Message",
    "ModelInfo",
    "ModelRegistry",
    "NewProvider",
    "NoCapableProvider",
    "NoProviderConfigured",
    "Provider",
    "ProviderChanges",
    "ProviderFailure",
    "ProviderNameTaken",
    "ProviderNotFound",
    "RegistryNotRunning",
    "SealedKey",
    "StreamEvent",
    "StreamInterrupted",
    "Target",
    "TextBlock",
    "TextDelta",
    "ToolCall",
    "ToolResultBlock",
    "ToolSpec",
    "ToolUseBlock",
    "all_enabled_targets",
    "chain",
    "check_all",
    "check_provider",
    "check_target",
    "create_provider",
    "delete_provider",
    "get_provider",
    "get_target",
    "list_providers",
    "list_system_providers",
    "llm_context",
    "reseal",
    "rotate",
    "stream_chat",
    "update_provider",
]
