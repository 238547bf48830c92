namespace Voice.TestPhone;

/// <summary>ITU-T G.711 decoding, μ-law (payload type 0) and A-law (8).</summary>
public static class G711
{
    public static short DecodeMuLaw(byte encoded)
    {
        var u = ~encoded & 0xFF;
        var t = ((u & 0x0F) << 3) + 0x84;
        t <<= (u & 0x70) >> 4;
        return (short)((u & 0x80) != 0 ? 0x84 - t : t - 0x84);
    }

    /// <summary>μ-law encoding (the ITU-T G.711 segment search, with the 0x84 bias).</summary>
    public static byte EncodeMuLaw(short sample)
    {
        var sign = sample < 0 ? 0x80 : 0;
        var magnitude = Math.Min(Math.Abs((int)sample), 32635) + 0x84;
        var exponent = 7;
        for (var mask = 0x4000; (magnitude & mask) == 0 && exponent > 0; mask >>= 1)
        {
            exponent--;
        }
        var mantissa = (magnitude >> (exponent + 3)) & 0x0F;
        return (byte)~(sign | (exponent << 4) | mantissa);
    }

    public static short DecodeALaw(byte encoded)
    {
        var a = encoded ^ 0x55;
        var t = (a & 0x0F) << 4;
        var segment = (a & 0x70) >> 4;
        t = segment switch
        {
            0 => t + 8,
            1 => t + 0x108,
            _ => (t + 0x108) << (segment - 1),
        };
        return (short)((a & 0x80) != 0 ? t : -t);
    }

    /// <summary>The RMS and the zero-crossing rate of a G.711 payload: speech is loud with a low crossing rate, noise crosses at every other sample.</summary>
    public static (double Rms, double ZeroCrossingRate) Measure(ReadOnlySpan<byte> payload, int payloadType)
    {
        if (payload.IsEmpty)
        {
            return (0, 0);
        }
        double sum = 0;
        var crossings = 0;
        short previous = 0;
        for (var i = 0; i < payload.Length; i++)
        {
            var sample = payloadType == 8 ? DecodeALaw(payload[i]) : DecodeMuLaw(payload[i]);
            sum += (double)sample * sample;
            if (i > 0 && (sample >= 0) != (previous >= 0))
            {
                crossings++;
            }
            previous = sample;
        }
        return (Math.Sqrt(sum / payload.Length), crossings / (double)payload.Length);
    }
}
