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
        return Walk(tag, 1);
    }

    private static string? Walk(JsonElement element, int depth)
    {
        if (depth > MaxDepth && element.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
        {
            return $"must be nested at most {MaxDepth} levels deep";
        }
        try
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                    {
                        if (!IsText(property.Name))
                        {
                            return NotText;
                        }
                        if (Walk(property.Value, depth + 1) is { } error)
                        {
                            return error;
                        }
                    }
                    return null;
                case JsonValueKind.Array:
                    foreach (var item in element.EnumerateArray())
                    {
                        if (Walk(item, depth + 1) is { } error)
                        {
                            return error;
                        }
                    }
                    return null;
                case JsonValueKind.String:
                    return IsText(element.GetString()) ? null : NotText;
                default:
                    return null;
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            // Escapes or bytes that do not decode at all.
            return NotText;
        }
    }

    private const string NotText = "holds text that is not valid Unicode (invalid UTF-8 or a lone surrogate)";

    /// <summary>Escapes are decoded without checking that the result pairs its surrogates.</summary>
    private static bool IsText(string? text)
    {
        if (text is null)
        {
            return true;
        }
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
