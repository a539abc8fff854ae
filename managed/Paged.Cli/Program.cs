Console.WriteLine("paged");
