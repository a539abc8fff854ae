using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Paged.Benchmarks -- --filter '*'
// dotnet run -c Release --project bench/Paged.Benchmarks -- kv-report
if (args.Length > 0 && args[0] == "kv-report")
    Paged.Benchmarks.KvReport.Run();
else
    BenchmarkSwitcher.FromAssembly(typeof(Paged.Benchmarks.MatmulBenchmarks).Assembly).Run(args);
