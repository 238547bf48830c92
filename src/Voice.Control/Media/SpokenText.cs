using System.Globalization;
using System.Text;

namespace Voice.Control.Media;

/// <summary>
/// Makes message text safe to hand to FreeSWITCH's <c>speak</c> application. The text travels inside a
/// <c>sendmsg</c> command, so a line break would end the command and let the rest run as another one; and
/// FreeSWITCH expands <c>${…}</c> and <c>$${…}</c> in application arguments, where <c>${system(…)}</c> style
/// expressions call API commands. So line breaks and other control characters become spaces, the characters
/// that build those expressions (<c>{ } \</c>) and invisible format characters are dropped, and <c>|</c>, which separates engine, voice and
/// text in the argument, becomes a comma pause. Everything else is spoken as written.
/// </summary>
public static class SpokenText
{
    public static string Clean(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sb = new StringBuilder(text.Length);
        var space = false;
        foreach (var c in text)
        {
            var category = char.GetUnicodeCategory(c);
            if (char.IsWhiteSpace(c) || char.IsControl(c)
                || category is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                space = sb.Length > 0;
                continue;
            }
            if (c is '{' or '}' or '\\' || category == UnicodeCategory.Format)
            {
                continue;
            }
            if (space)
            {
                sb.Append(' ');
                space = false;
            }
            sb.Append(c == '|' ? ',' : c);
        }
        return sb.ToString();
    }
}
