using System.Text;

namespace Voice.Control.FreeSwitch;

/// <summary>
/// A long header block kept as it came (<see cref="EslFrame.LazyHeaderBytes"/>): the bytes, and where each header's
/// value lies in them; a value becomes a string only when it is asked for.
/// </summary>
internal sealed class EslHeaderBlock(byte[] bytes, EslHeaderBlock.Slot[] slots)
{
    /// <summary>A header: its name (shared across messages) and its value's place in the block.</summary>
    internal readonly record struct Slot(string Name, int Start, int Length);

    /// <summary>The first header of that name (case-insensitive), as on the wire; null when absent.</summary>
    public string? Find(string name)
    {
        foreach (var slot in slots)
        {
            if (string.Equals(slot.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return Value(slot);
            }
        }
        return null;
    }

    /// <summary>Every header in wire order, values as on the wire.</summary>
    public KeyValuePair<string, string>[] Decode()
    {
        var headers = new KeyValuePair<string, string>[slots.Length];
        for (var i = 0; i < slots.Length; i++)
        {
            headers[i] = new(slots[i].Name, Value(slots[i]));
        }
        return headers;
    }

    private string Value(Slot slot) => Encoding.UTF8.GetString(bytes, slot.Start, slot.Length);
}
