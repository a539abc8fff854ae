using System.Reflection;

namespace Paged.Engine.Tests;

/// <summary>
/// Calls every public instance method a type declares on a disposed object, with plain arguments, and
/// asserts each throws <see cref="ObjectDisposedException"/> (synchronously, or from the returned task).
/// Methods added later are covered without editing the test. Methods taking a span (which reflection
/// cannot pass or return) are returned for the caller to cover by hand.
/// </summary>
internal static class DisposedCalls
{
    public static IReadOnlyList<string> AssertEveryMethodThrows(object disposed, params string[] exempt)
    {
        var skipped = new List<string>();
        var type = disposed.GetType();
        foreach (var declared in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
        {
            if (declared.IsSpecialName || exempt.Contains(declared.Name))
                continue;
            var method = declared.IsGenericMethodDefinition ? declared.MakeGenericMethod(typeof(float)) : declared;
            var parameters = method.GetParameters();
            if (method.ReturnType.IsByRefLike || parameters.Any(p => (p.ParameterType.IsByRef ? p.ParameterType.GetElementType()! : p.ParameterType).IsByRefLike))
            {
                skipped.Add(method.Name);
                continue;
            }

            var args = parameters.Select(p => Argument(p.ParameterType)).ToArray();
            string name = $"{type.Name}.{method.Name}({string.Join(", ", parameters.Select(p => p.ParameterType.Name))})";
            Assert.IsInstanceOfType<ObjectDisposedException>(Invoke(method, disposed, args), $"{name} after Dispose");
        }

        return skipped;
    }

    private static Exception? Invoke(MethodInfo method, object target, object?[] args)
    {
        try
        {
            object? result = method.Invoke(target, args);
            if (result is Task task)
                task.GetAwaiter().GetResult();
            return null;
        }
        catch (TargetInvocationException e)
        {
            return e.InnerException;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>A valid argument of <paramref name="type"/> (non-null where null is not allowed), so argument checks pass.</summary>
    private static object? Argument(Type type)
    {
        if (type.IsByRef)
            type = type.GetElementType()!;
        if (type == typeof(string))
            return "Once upon a time";
        if (type == typeof(SamplingParams))
            return new SamplingParams { MaxTokens = 1 };
        if (type == typeof(RequestAttributes))
            return new RequestAttributes();
        if (type == typeof(GenerationRequest))
            return new GenerationRequest { Prompt = "Once upon a time" };
        if (type == typeof(int[]))
            return new[] { 1 };
        if (type == typeof(long))
            return 16L;
        if (type == typeof(int))
            return 1;
        if (type.IsGenericType && (type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) || type.GetGenericTypeDefinition() == typeof(IEnumerable<>)))
            return Array.CreateInstance(type.GetGenericArguments()[0], 0);
        if (type.IsValueType)
            return Activator.CreateInstance(type);
        if (typeof(Delegate).IsAssignableFrom(type))
            return null; // the engines' callbacks are optional
        if (type == typeof(Paged.Runtime.StagingBuffer) || type == typeof(Paged.Models.ModelWeights))
            return null; // a disposed object is checked before its arguments
        if (type == typeof(IDisposable))
            return new MemoryStream(); // DeviceContext.WrapHostMemory's owner

        throw new NotSupportedException($"no test argument for {type}");
    }
}
