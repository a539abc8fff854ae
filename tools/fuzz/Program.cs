using Paged.Models.Tests.Fuzzing;
using SharpFuzz;

// Paged.Fuzz FORMAT [afl | libfuzzer | replay FILE...]   (FORMAT: llama2c, tokenizer or gguf)
//   afl        (default) one input per fork from AFL++: afl-fuzz -i corpus -o findings -- dotnet Paged.Fuzz.dll gguf
//   libfuzzer  in-process loop for libfuzzer-dotnet
//   replay     runs the given files once each (a crash found by either fuzzer, or a whole findings directory)
// Paged.Models.dll must be instrumented first for the fuzzers (sharpfuzz Paged.Models.dll); replay needs nothing.
if (args.Length < 1 || !FuzzTargets.Formats.Contains(args[0]))
{
    Console.Error.WriteLine($"usage: Paged.Fuzz {{{string.Join('|', FuzzTargets.Formats)}}} [afl | libfuzzer | replay FILE...]");
    return 2;
}

string format = args[0];
string mode = args.Length > 1 ? args[1] : "afl";
// The loaders read paths, as the engine does: each input goes through one scratch file.
string scratch = Path.Combine(Path.GetTempPath(), $"paged-fuzz-{Environment.ProcessId}.{format}");
try
{
    switch (mode)
    {
        case "afl":
            Fuzzer.OutOfProcess.Run(stream =>
            {
                using (var file = File.Create(scratch))
                    stream.CopyTo(file);
                FuzzTargets.Run(format, scratch);
            });
            return 0;
        case "libfuzzer":
            Fuzzer.LibFuzzer.Run(span =>
            {
                File.WriteAllBytes(scratch, span.ToArray());
                FuzzTargets.Run(format, scratch);
            });
            return 0;
        case "replay":
            int failures = 0;
            foreach (string input in args.Skip(2).SelectMany(a => Directory.Exists(a) ? Directory.GetFiles(a) : [a]))
            {
                try
                {
                    Console.WriteLine($"{input}: {FuzzTargets.Run(format, input)} stage(s) accepted");
                }
                catch (Exception e)
                {
                    failures++;
                    Console.WriteLine($"{input}: CRASH {e}");
                }
            }

            return failures == 0 ? 0 : 1;
        default:
            Console.Error.WriteLine($"unknown mode {mode}; expected afl, libfuzzer or replay");
            return 2;
    }
}
finally
{
    File.Delete(scratch);
}
