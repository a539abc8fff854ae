using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Paged.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Paged.Benchmarks.MatmulBenchmarks).Assembly).Run(args);
