using System.Collections.Concurrent;

namespace Voice.Control.Net;

/// <summary>
/// Header names seen on a protocol's messages, shared rather than allocated per message: peers send the same few dozen
/// on every message (FreeSWITCH's channel data, some 250 on every call). Names are kept exactly as written. Bounded: a
/// peer that sends new names without end gets a new string for each past <c>capacity</c>, and nothing more is kept.
/// </summary>
internal sealed class NameTable
{
    private readonly ConcurrentDictionary<string, string> _names;
    private readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _capacity;
    private readonly int _maxLength;
    private int _count; // kept apart: ConcurrentDictionary.Count takes every lock of the dictionary

    /// <param name="capacity">The most names kept.</param>
    /// <param name="maxLength">The longest name kept; longer ones are new strings each time.</param>
    /// <param name="seed">Names kept from the start: the table returns these very instances, so they may be compared by reference.</param>
    public NameTable(int capacity, int maxLength, params string[] seed)
    {
        _names = new ConcurrentDictionary<string, string>(seed.Select(name => KeyValuePair.Create(name, name)), StringComparer.Ordinal);
        _lookup = _names.GetAlternateLookup<ReadOnlySpan<char>>();
        _capacity = capacity;
        _maxLength = maxLength;
        _count = _names.Count;
    }

    /// <summary>The kept string equal to <paramref name="name"/>, or a new one (kept while there is room).</summary>
    public string Get(ReadOnlySpan<char> name)
    {
        if (_lookup.TryGetValue(name, out var kept))
        {
            return kept;
        }
        var text = name.ToString();
        if (name.Length <= _maxLength && Volatile.Read(ref _count) < _capacity && _names.TryAdd(text, text))
        {
            Interlocked.Increment(ref _count);
        }
        return text;
    }
}
