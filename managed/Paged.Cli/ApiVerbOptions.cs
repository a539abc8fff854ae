using CommandLine;
using Paged.Server;

namespace Paged.Cli;

/// <summary>Options of the verbs that answer OpenAI API requests (<c>serve</c>, <c>run-batch</c>).</summary>
public abstract class ApiVerbOptions : EngineVerbOptions
{
    [Option("served-model-name", HelpText = "Model name requests give in 'model' and /v1/models lists (another name is a 404 error; default: the model file's name).")]
    public string? ServedModelName { get; set; }

    [Option("chat-template", HelpText = "Jinja2 chat template file (default: the GGUF's tokenizer.chat_template, else a plain User:/Assistant: template).")]
    public string? ChatTemplate { get; set; }

    [Option("request-timeout", Default = 600, HelpText = "Seconds after which a request is cancelled and answered with a timeout error.")]
    public int RequestTimeoutSeconds { get; set; }

    [Option("max-n", Default = 16, HelpText = "Largest n (completions per prompt) a request may ask for.")]
    public int MaxN { get; set; }

    [Option("max-tokens-cap", Default = 4096, HelpText = "Largest max_tokens a request may ask for (also the default, capped by the context).")]
    public int MaxTokensCap { get; set; }

    [Option("tool-call-parser", Default = "none", HelpText = "Read chat output for tool calls: hermes (<tool_call>{json}</tool_call>, Qwen/Hermes), llama3_json ({\"name\", \"parameters\"}) or none (tool_choice other than \"none\" is then a 400).")]
    public string ToolCallParser { get; set; } = "none";

    /// <summary>The request limits these options set (the listening settings keep their defaults).</summary>
    internal ServerOptions ToServerOptions() => new()
    {
        ServedModelName = ServedModelName ?? Path.GetFileNameWithoutExtension(Model),
        MaxN = MaxN,
        MaxTokensCap = MaxTokensCap,
        ToolCallParser = Paged.Server.Tools.ToolCallParsing.FromName(ToolCallParser),
        RequestTimeout = RequestTimeoutSeconds > 0
            ? TimeSpan.FromSeconds(RequestTimeoutSeconds)
            : throw new ArgumentException($"--request-timeout must be positive (got {RequestTimeoutSeconds})"),
    };
}
