"""litft: from an organisation's own text to a domain-adapted LLM, built on litgpt and Lightning Fabric."""

from litft.common.errors import LitftError

__version__ = "0.1.0"

__all__ = ["LitftError", "__version__"]
