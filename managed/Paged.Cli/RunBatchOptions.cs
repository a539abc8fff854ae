using CommandLine;

namespace Paged.Cli;

[Verb("run-batch", HelpText = "Run a file of OpenAI batch requests (JSONL: custom_id, method, url = /v1/completions or /v1/chat/completions, body) on one engine; write one result line per request.")]
public sealed class RunBatchOptions : ApiVerbOptions
{
    [Option('i', "input-file", Required = true, HelpText = "Batch input: one JSON request a line (blank lines are skipped).")]
    public string Input { get; set; } = "";

    [Option('o', "output-file", Required = true, HelpText = "Batch output: one JSON result a line, in input order.")]
    public string Output { get; set; } = "";

    [Option("max-concurrent-requests", Default = 0, HelpText = "Lines running at once (default twice --max-num-seqs, so the scheduler always has work queued).")]
    public int MaxConcurrentRequests { get; set; }

    [Option("no-progress", Default = false, HelpText = "Show no progress (by default a bar on a terminal, else periodic lines; always on stderr).")]
    public bool NoProgress { get; set; }

    [Option("progress-interval", Default = 5.0, HelpText = "Seconds between progress lines when stderr is not a terminal (0 = a line per finished request).")]
    public double ProgressInterval { get; set; }
}
