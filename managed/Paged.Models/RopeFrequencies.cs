using Paged.Models.Weights;

namespace Paged.Models;

/// <summary>
/// The RoPE inverse-frequency table [rotary_dim / 2] a model's rope op reads, computed on the host as transformers'
/// rope init functions do: in fp32, step by step in their order of operations (PyTorch's fp32 pow may differ from
/// this correctly rounded one by an ulp, far below anything a logit notices). For a checkpoint that declares bf16 or
/// f16 the table is then rounded to that type, because transformers casts the rotary buffer along with the model
/// when it loads one: against its outputs on the bf16 hf-tiny models the logprobs agree to 3e-5 with the rounding
/// and only to 1e-2 without it (and greedy ids diverge), while the f32 ones need the fp32 table.
/// </summary>
public static class RopeFrequencies
{
    public static float[] Compute(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int dim = config.HeadSize;
        var s = config.RopeScaling;
        var inv = Default(config.RopeTheta, dim);
        switch (s.Type)
        {
            case RopeScalingType.Linear:
                for (int i = 0; i < inv.Length; i++)
                    inv[i] /= s.Factor;
                break;
            case RopeScalingType.Dynamic:
                // transformers grows the base only once a sequence exceeds max_position_embeddings; the engine caps
                // the context there, so within it the table is the default one (as transformers' at that length).
                break;
            case RopeScalingType.Llama3:
                ApplyLlama3(inv, s);
                break;
        }

        for (int i = 0; i < inv.Length; i++)
        {
            inv[i] = config.DType switch
            {
                WeightDType.BF16 => BitConverter.Int32BitsToSingle(Bf16.FromSingle(inv[i]) << 16),
                WeightDType.F16 => (float)(Half)inv[i],
                _ => inv[i],
            };
        }

        return inv;
    }

    /// <summary>inv_freq[i] = 1 / base^((2i) / dim), each step rounded to fp32.</summary>
    private static float[] Default(float theta, int dim)
    {
        var inv = new float[dim / 2];
        for (int i = 0; i < inv.Length; i++)
        {
            float exponent = (float)(2 * i) / dim;
            float power = (float)Math.Pow(theta, exponent);
            inv[i] = 1f / power;
        }

        return inv;
    }

    /// <summary>Llama 3.1: wavelengths above old_context/low_freq_factor divided by the factor, below old_context/high_freq_factor kept, a linear blend between.</summary>
    private static void ApplyLlama3(float[] inv, RopeScaling s)
    {
        float oldContext = s.OriginalMaxPositions;
        float lowFreqWavelen = oldContext / s.LowFreqFactor;
        float highFreqWavelen = oldContext / s.HighFreqFactor;
        for (int i = 0; i < inv.Length; i++)
        {
            // PyTorch evaluates scalar / tensor as reciprocal(tensor) * scalar.
            float wavelen = (1f / inv[i]) * (float)(2 * Math.PI);
            float scaled = wavelen > lowFreqWavelen ? inv[i] / s.Factor : inv[i];
            float smooth = (((1f / wavelen) * oldContext) - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
            float smoothed = ((1f - smooth) * scaled / s.Factor) + (smooth * scaled);
            bool medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
            inv[i] = medium ? smoothed : scaled;
        }
    }
}
