using Paged.Examples.Embedding;

// Usage: Paged.Examples.Embedding MODEL [PROMPT...] (a llama2.c checkpoint or a GGUF file).
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: Paged.Examples.Embedding MODEL [PROMPT...]");
    return 2;
}

string[] prompts = args.Length > 1 ? args[1..] : ["Once upon a time", "The cat sat", "Lily and Tom"];
using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
await StoryStreamer.RunAsync(args[0], prompts, Console.Out, timeout.Token);
return 0;
