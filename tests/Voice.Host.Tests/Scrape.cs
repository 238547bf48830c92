using System.Text.RegularExpressions;

namespace Voice.Host.Tests;

/// <summary>A <c>/metrics</c> scrape read as Prometheus reads it: samples by name and label set, whatever the order of the labels.</summary>
public static partial class Scrape
{
    [GeneratedRegex("""^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*)?\})? (-?[0-9.eE+-]+|\+Inf|NaN)$""")]
    public static partial Regex SampleLine();

    [GeneratedRegex(""""([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"""")]
    public static partial Regex Label();

    /// <summary>The value of the sample of <paramref name="name"/> with exactly these labels, in whatever order they are written.</summary>
    public static double Value(string scrape, string name, params (string Name, string Value)[] labels)
    {
        var wanted = labels.OrderBy(l => l.Name, StringComparer.Ordinal).ToList();
        var found = scrape.Split('\n').Select(l => SampleLine().Match(l)).Where(m => m.Success && m.Groups[1].Value == name)
            .Where(m => Label().Matches(m.Groups[2].Value).Select(l => (l.Groups[1].Value, l.Groups[2].Value)).OrderBy(l => l.Item1, StringComparer.Ordinal).SequenceEqual(wanted))
            .ToList();
        Assert.That(found, Has.Count.EqualTo(1), $"one sample {name}{{{string.Join(',', labels)}}} in:\n{scrape}");
        return double.Parse(found[0].Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
