"""Which provider a litellm model string belongs to, and which API key it needs. No litellm import."""

from __future__ import annotations

import os

# provider -> the environment variables litellm reads for its key (first one named in messages)
KEY_VARS: dict[str, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "mistral": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "together_ai": ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY"),
    "fireworks_ai": ("FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY"),
    "cohere": ("COHERE_API_KEY",),
    "perplexity": ("PERPLEXITYAI_API_KEY",),
    "cerebras": ("CEREBRAS_API_KEY",),
    "nvidia_nim": ("NVIDIA_NIM_API_KEY",),
    "github": ("GITHUB_API_KEY",),
}
# providers that run locally or authenticate some other way: no key checked here
KEYLESS = {"ollama", "ollama_chat", "lm_studio", "llamafile", "hosted_vllm", "vllm", "bedrock", "vertex_ai",
           "azure", "azure_ai", "huggingface", "sagemaker", "watsonx", "custom_openai", "text-completion-openai",
           "cohere_chat", "replicate", "databricks", "sambanova", "ai21", "cloudflare", "dashscope", "moonshot",
           "novita", "nebius", "litellm_proxy", "openai_like", "oobabooga", "triton", "predibase", "clarifai",
           "baseten", "snowflake", "oci", "meta_llama", "lambda_ai", "hyperbolic", "friendliai", "codestral",
           "text-completion-codestral", "volcengine", "github_copilot", "llamafile", "xinference", "infinity"}
BARE_PREFIXES = {"claude": "anthropic", "gpt-": "openai", "o1": "openai", "o3": "openai", "o4": "openai",
                 "chatgpt": "openai", "gemini-": "gemini", "mistral": "mistral", "codestral": "mistral",
                 "deepseek": "deepseek", "grok": "xai", "command": "cohere"}


def provider_of(model: str) -> str | None:
    """`gemini/gemini-2.5-flash` -> gemini; `claude-sonnet-4-5` -> anthropic; unknown -> None."""
    if "/" in model:
        provider = model.split("/", 1)[0]
        return provider if provider in KEY_VARS or provider in KEYLESS else None
    for prefix, provider in BARE_PREFIXES.items():
        if model.startswith(prefix):
            return provider
    return None


def is_local(model: str) -> bool:
    """A model that runs on the user's machine (free), or an OpenAI-compatible server they point at."""
    provider = provider_of(model)
    return provider in {"ollama", "ollama_chat", "lm_studio", "llamafile", "hosted_vllm", "vllm"}


def missing_key(model: str, env: dict[str, str] | None = None) -> str | None:
    """The env var to set when `model` needs an API key that is not there, else None."""
    env = os.environ if env is None else env
    provider = provider_of(model)
    names = KEY_VARS.get(provider or "", ())
    if not names or any(env.get(n) for n in names):
        return None
    if provider == "openai" and env.get("OPENAI_API_BASE"):
        return None  # a local OpenAI-compatible server: litellm gets a placeholder key from us
    return names[0]
