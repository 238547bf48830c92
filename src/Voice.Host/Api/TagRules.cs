using System.Text.Json;

namespace Voice.Host.Api;

/// <summary>
/// What a <c>tag</c> must be to be stored and shown again in every answer and webhook: at most
/// <see cref="MaxLength"/> characters of JSON, nested at most <see cref="MaxDepth"/> levels (a call list adds
/// its own levels around it), and text that is valid Unicode (no invalid UTF-8, no lone surrogate escape, which
/// no JSON writer can write back).
/// </summary>
internal static class TagRules
{
    public const int MaxLength = 4096;

    public const int MaxDepth = 32;

    /// <summary>Null when the tag can be stored and read back; otherwise why not.</summary>
    public static string? Check(JsonElement tag)
    {
        string raw;
        try
        {
            raw = tag.GetRawText();
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            return "must be valid UTF-8 JSON";
        }
        if (raw.Length > MaxLength)
        {
            return $"must be at most {MaxLength} characters of JSON";
        }
        return Walk(tag, 1, "tag");
    }

    private static string? Walk(JsonElement element, int depth, string path)
    {
        if (depth > MaxDepth && element.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
        {
            return $"must be nested at most {MaxDepth} levels deep";
        }
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (!IsText(() => property.Name))
                    {
                        return $"holds a property name that is not valid Unicode text (invalid UTF-8 or a lone surrogate) in {path}";
                    }
                    if (Walk(property.Value, depth + 1, $"{path}.{property.Name}") is { } error)
                    {
                        return error;
                    }
                }
                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (Walk(item, depth + 1, $"{path}[{index++}]") is { } error)
                    {
                        return error;
                    }
                }
                return null;
            case JsonValueKind.String:
                return IsText(() => element.GetString()) ? null : $"{path} is not valid Unicode text (invalid UTF-8 or a lone surrogate)";
            default:
                return null;
        }
    }

    private static bool IsText(Func<string?> read)
    {
        try
        {
            // Escapes are decoded without checking that the result pairs its surrogates.
            return read() is not { } text || HasNoLoneSurrogate(text);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }

    private static bool HasNoLoneSurrogate(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return false;
            }
        }
        return true;
    }
}
