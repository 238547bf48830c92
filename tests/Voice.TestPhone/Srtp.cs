using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Voice.TestPhone;

/// <summary>
/// Receiving SRTP with AES_CM_128/192/256_HMAC_SHA1_80 (RFC 3711, RFC 6188; SDES keys of RFC 4568): session keys derived from the
/// offered master key and salt, each packet's 80-bit tag checked, its payload decrypted. Enough for a phone to
/// prove it can decode what it is sent, not a general SRTP stack (no MKI, key derivation rate 0).
/// </summary>
public sealed class Srtp : IDisposable
{
    private const int TagLength = 10;
    private readonly Aes _aes = Aes.Create();
    private readonly byte[] _salt;
    private readonly HMACSHA1 _hmac;
    private uint _rollover;
    private int _lastSequence = -1;

    private Srtp(byte[] masterKey, byte[] masterSalt)
    {
        _aes.Key = Derive(masterKey, masterSalt, 0x00, masterKey.Length);
        _hmac = new HMACSHA1(Derive(masterKey, masterSalt, 0x01, 20));
        _salt = Derive(masterKey, masterSalt, 0x02, 14);
    }

    /// <summary>From an SDP <c>a=crypto:&lt;tag&gt; AES_CM_128_HMAC_SHA1_80 inline:&lt;base64 key||salt&gt;</c> line (or the 192/256 suites); null for any other.</summary>
    public static Srtp? FromCryptoLine(string line)
    {
        var parts = line.Split(' ');
        var keyLength = parts.Length < 3 ? 0 : parts[1] switch
        {
            "AES_CM_128_HMAC_SHA1_80" => 16,
            "AES_192_CM_HMAC_SHA1_80" => 24,
            "AES_256_CM_HMAC_SHA1_80" => 32,
            _ => 0,
        };
        if (keyLength == 0 || !parts[2].StartsWith("inline:", StringComparison.Ordinal))
        {
            return null;
        }
        var keySalt = Convert.FromBase64String(parts[2]["inline:".Length..].Split('|')[0]);
        return keySalt.Length == keyLength + 14 ? new Srtp(keySalt[..keyLength], keySalt[keyLength..]) : null;
    }

    /// <summary>The payload of an SRTP packet (after its header), when its tag is right; null otherwise.</summary>
    public byte[]? Decrypt(ReadOnlySpan<byte> packet, int headerLength)
    {
        if (packet.Length < headerLength + TagLength)
        {
            return null;
        }
        var sequence = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        var rollover = _rollover;
        if (_lastSequence >= 0 && sequence < 0x1000 && _lastSequence > 0xF000)
        {
            rollover++; // the 16-bit sequence number wrapped (RFC 3711 §3.3.1, simplified for in-order packets)
        }
        var authenticated = packet[..^TagLength];
        Span<byte> withRollover = stackalloc byte[authenticated.Length + 4];
        authenticated.CopyTo(withRollover);
        BinaryPrimitives.WriteUInt32BigEndian(withRollover[authenticated.Length..], rollover);
        var tag = _hmac.ComputeHash(withRollover.ToArray());
        if (!CryptographicOperations.FixedTimeEquals(tag.AsSpan(0, TagLength), packet[^TagLength..]))
        {
            return null;
        }
        _rollover = rollover;
        _lastSequence = sequence;
        var ssrc = BinaryPrimitives.ReadUInt32BigEndian(packet[8..]);
        var index = ((ulong)rollover << 16) | sequence;
        var iv = new byte[16];
        _salt.CopyTo(iv, 0);
        Span<byte> word = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(word, ssrc);
        for (var i = 0; i < 4; i++)
        {
            iv[4 + i] ^= word[i];
        }
        BinaryPrimitives.WriteUInt64BigEndian(word, index);
        for (var i = 0; i < 6; i++)
        {
            iv[8 + i] ^= word[2 + i];
        }
        var payload = packet[headerLength..^TagLength].ToArray();
        Xor(payload, Keystream(iv, payload.Length));
        return payload;
    }

    /// <summary>AES in counter mode from <paramref name="iv"/> (its last 16 bits the block counter).</summary>
    private byte[] Keystream(byte[] iv, int length)
    {
        var blocks = (length + 15) / 16;
        var counters = new byte[blocks * 16];
        for (var b = 0; b < blocks; b++)
        {
            iv.CopyTo(counters, b * 16);
            BinaryPrimitives.WriteUInt16BigEndian(counters.AsSpan((b * 16) + 14), (ushort)b);
        }
        return _aes.EncryptEcb(counters, PaddingMode.None);
    }

    /// <summary>RFC 3711 §4.3.1 with a key derivation rate of 0: AES-CM of the master key over (label ‖ 0) XOR the master salt.</summary>
    private static byte[] Derive(byte[] masterKey, byte[] masterSalt, byte label, int length)
    {
        using var aes = Aes.Create();
        aes.Key = masterKey;
        var x = new byte[16];
        masterSalt.CopyTo(x, 0);
        x[7] ^= label;
        var blocks = (length + 15) / 16;
        var input = new byte[blocks * 16];
        for (var b = 0; b < blocks; b++)
        {
            x.CopyTo(input, b * 16);
            BinaryPrimitives.WriteUInt16BigEndian(input.AsSpan((b * 16) + 14), (ushort)b);
        }
        return aes.EncryptEcb(input, PaddingMode.None)[..length];
    }

    private static void Xor(byte[] data, byte[] keystream)
    {
        for (var i = 0; i < data.Length; i++)
        {
            data[i] ^= keystream[i];
        }
    }

    public void Dispose()
    {
        _aes.Dispose();
        _hmac.Dispose();
    }
}
