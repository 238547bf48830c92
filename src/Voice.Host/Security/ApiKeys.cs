using System.Security.Cryptography;
using System.Text;

namespace Voice.Host.Security;

/// <summary>
/// The API keys that may call <c>/api</c>: from API_KEYS (<c>name=key,name=key</c>, or bare keys) or Auth:ApiKeys;
/// without any, one generated on first start and kept in the data directory. Keys are compared as SHA-256
/// digests in constant time, and every key is compared, so neither timing nor order tells how close a guess was.
/// </summary>
public sealed class ApiKeys
{
    private readonly (string Name, byte[] Digest)[] _keys;

    public ApiKeys(IEnumerable<(string Name, string Key)> keys, bool disabled, string source)
    {
        _keys = [.. keys.Select(k => (k.Name, SHA256.HashData(Encoding.UTF8.GetBytes(k.Key))))];
        Disabled = disabled;
        Source = source;
        if (!disabled && _keys.Length == 0)
        {
            throw new InvalidOperationException("No API key is configured; set API_KEYS or turn authentication off for a loopback-only bind.");
        }
    }

    /// <summary>Authentication is off (allowed only when every address the host listens on is loopback).</summary>
    public bool Disabled { get; }

    /// <summary>
    /// With authentication off: the addresses the server bound have been checked and are all loopback. Until
    /// then <c>/api</c> answers 503, so nothing is served without a key on an address nobody checked.
    /// </summary>
    public bool BindingChecked
    {
        get => Volatile.Read(ref _bindingChecked);
        set => Volatile.Write(ref _bindingChecked, value);
    }

    private bool _bindingChecked;

    /// <summary>Where the keys came from, for the log.</summary>
    public string Source { get; }

    /// <summary>The name of the key presented, or null when it is none of ours.</summary>
    public string? Match(string presented)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        string? name = null;
        foreach (var key in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(digest, key.Digest))
            {
                name ??= key.Name;
            }
        }
        return name;
    }

    /// <summary><c>name=key</c> pairs separated by commas; a bare key is named <c>key1</c>, <c>key2</c>….</summary>
    public static IReadOnlyList<(string Name, string Key)> Parse(IEnumerable<string> entries)
    {
        var keys = new List<(string, string)>();
        foreach (var entry in entries.Select(e => e.Trim()).Where(e => e.Length > 0))
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            var (name, key) = eq > 0 ? (entry[..eq].Trim(), entry[(eq + 1)..].Trim()) : ($"key{keys.Count + 1}", entry);
            if (key.Length < 16)
            {
                throw new InvalidOperationException($"API key '{name}' is shorter than 16 characters; use a long random key (e.g. openssl rand -hex 24).");
            }
            keys.Add((name, key));
        }
        return keys;
    }
}
