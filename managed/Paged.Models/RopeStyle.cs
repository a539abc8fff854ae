namespace Paged.Models;

/// <summary>How rotary position embedding pairs up the dimensions of a head.</summary>
public enum RopeStyle
{
    /// <summary>Rotate pairs (i, i+1): llama2.c and llama.cpp's "normal" llama style.</summary>
    AdjacentPairs,

    /// <summary>Rotate pairs (i, i + headSize/2): Hugging Face / NeoX style.</summary>
    RotateHalf,
}
