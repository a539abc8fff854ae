namespace Paged.Models.Weights;

/// <summary>Element type of a stored weight tensor.</summary>
public enum WeightDType
{
    F32,
    F16,
    BF16,
}

/// <summary>Sizes and names of <see cref="WeightDType"/>.</summary>
public static class WeightDTypes
{
    public static int Size(WeightDType type) => type == WeightDType.F32 ? 4 : 2;
}
