namespace Paged.Models.Templates;

/// <summary>Limits that keep a hostile or broken template from exhausting the process.</summary>
public sealed record TemplateLimits
{
    /// <summary>Characters of rendered output (and of any single string built while rendering).</summary>
    public long MaxOutputChars { get; init; } = 4 << 20;

    /// <summary>Statements executed plus loop iterations.</summary>
    public long MaxSteps { get; init; } = 5_000_000;

    /// <summary>Nested macro calls.</summary>
    public int MaxCallDepth { get; init; } = 64;
}

/// <summary>Counts one render's use of its <see cref="TemplateLimits"/>.</summary>
internal sealed class RenderBudget
{
    private readonly TemplateLimits _limits;
    private long _steps;

    public RenderBudget(TemplateLimits limits) => _limits = limits;

    public int CallDepth { get; set; }

    public int MaxCallDepth => _limits.MaxCallDepth;

    public void Step()
    {
        if (++_steps > _limits.MaxSteps)
        {
            throw new TemplateException($"template rendering exceeded {_limits.MaxSteps} steps");
        }
    }

    public void CheckSize(long chars)
    {
        if (chars > _limits.MaxOutputChars)
        {
            throw new TemplateException($"template output exceeded {_limits.MaxOutputChars} characters");
        }
    }
}
