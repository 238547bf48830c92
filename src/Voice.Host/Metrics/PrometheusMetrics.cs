using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Voice.Control.Calls;
using Voice.Host.Api;

namespace Voice.Host.Metrics;

/// <summary>
/// <c>/metrics</c> in the Prometheus text format (0.0.4), written here: the library's and the host's
/// <see cref="Meter"/> instruments (counters and latency histograms, read through a <see cref="MeterListener"/>),
/// call state changes and endings counted from the calls' own events, and gauges read at scrape time
/// (active calls by state, link state).
/// </summary>
internal sealed class PrometheusMetrics : IDisposable
{
    /// <summary>Latency buckets in seconds: fine below 10 ms, where VoiceBridge's own work lies, coarse above.</summary>
    private static readonly double[] Buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly IOutboundCalls _calls;
    private readonly Func<IEnumerable<(string Link, string Name, bool Up)>> _links;
    private readonly MeterListener _listener = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Family> _families = new(StringComparer.Ordinal);

    /// <param name="calls">The calls, whose state changes and endings are counted.</param>
    /// <param name="links">The links' state, read at scrape time.</param>
    /// <param name="meters">This host's meters: another host in the same process has meters of the same names, not counted here.</param>
    public PrometheusMetrics(IOutboundCalls calls, Func<IEnumerable<(string Link, string Name, bool Up)>> links, IReadOnlyCollection<Meter> meters)
    {
        _calls = calls;
        _links = links;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (meters.Contains(instrument.Meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.Start();
        calls.StateChanged += OnStateChanged;
    }

    private void OnStateChanged(object? sender, CallStateChange change)
    {
        var state = CallResponses.State(change.To);
        lock (_lock)
        {
            Counter("voicebridge_call_state_changes_total", "Call state changes, by the state entered").Add(Labels(("state", state)), 1);
            if (CallStateMachine.IsFinal(change.To))
            {
                Counter("voicebridge_calls_ended_total", "Calls ended, by final state and reason")
                    .Add(Labels(("state", state), ("reason", change.Reason ?? "unknown")), 1);
            }
        }
    }

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = Labels(tags);
        var name = instrument.Name.Replace('.', '_');
        lock (_lock)
        {
            if (instrument is Histogram<double>)
            {
                var family = FamilyOf(name + (instrument.Unit == "s" ? "_seconds" : string.Empty), "histogram", instrument.Description ?? name);
                if (!family.Histograms.TryGetValue(labels, out var histogram))
                {
                    family.Histograms[labels] = histogram = new Histogram();
                }
                histogram.Observe(value);
            }
            else
            {
                Counter(name + "_total", instrument.Description ?? name).Add(labels, value);
            }
        }
    }

    private Family Counter(string name, string help) => FamilyOf(name, "counter", help);

    private Family FamilyOf(string name, string type, string help)
    {
        if (!_families.TryGetValue(name, out var family))
        {
            _families[name] = family = new Family(type, help);
        }
        return family;
    }

    /// <summary>The text of one scrape.</summary>
    public string Scrape()
    {
        var text = new StringBuilder(4096);
        var active = _calls.Active;
        var byState = active.CountBy(c => CallResponses.State(c.State)).ToDictionary();
        Write(text, "voicebridge_calls_active", "gauge", "Calls not yet ended", [(string.Empty, active.Count)]);
        Write(text, "voicebridge_calls_by_state", "gauge", "Calls not yet ended, by state",
            [.. new[] { "queued", "dialing", "ringing", "playing" }.Select(s => (Labels(("state", s)), (double)byState.GetValueOrDefault(s)))]);
        Write(text, "voicebridge_link_up", "gauge", "1 when the link to drachtio-server or a FreeSWITCH is up",
            [.. _links().Select(l => (Labels(("link", l.Link), ("name", l.Name)), l.Up ? 1.0 : 0.0))]);
        Write(text, "voicebridge_simulated", "gauge", "1 when calls go to the simulated backend", [(string.Empty, _calls.IsSimulated ? 1 : 0)]);
        lock (_lock)
        {
            foreach (var (name, family) in _families.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                if (family.Type == "counter")
                {
                    Write(text, name, "counter", family.Help, [.. family.Values.Select(v => (v.Key, v.Value))]);
                    continue;
                }
                text.Append("# HELP ").Append(name).Append(' ').Append(family.Help).Append('\n');
                text.Append("# TYPE ").Append(name).Append(" histogram\n");
                foreach (var (labels, histogram) in family.Histograms)
                {
                    long cumulative = 0;
                    for (var i = 0; i <= Buckets.Length; i++)
                    {
                        cumulative += histogram.Counts[i];
                        var le = i < Buckets.Length ? Buckets[i].ToString(CultureInfo.InvariantCulture) : "+Inf";
                        text.Append(name).Append("_bucket{").Append(labels).Append(labels.Length > 0 ? "," : string.Empty)
                            .Append("le=\"").Append(le).Append("\"} ").Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
                    }
                    Sample(text, name + "_sum", labels, histogram.Sum);
                    Sample(text, name + "_count", labels, histogram.Count);
                }
            }
        }
        return text.ToString();
    }

    private static void Write(StringBuilder text, string name, string type, string help, IEnumerable<(string Labels, double Value)> samples)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        foreach (var (labels, value) in samples)
        {
            Sample(text, name, labels, value);
        }
    }

    private static void Sample(StringBuilder text, string name, string labels, double value)
    {
        text.Append(name);
        if (labels.Length > 0)
        {
            text.Append('{').Append(labels).Append('}');
        }
        text.Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
    }

    private static string Labels(params (string Name, string Value)[] labels) =>
        string.Join(',', labels.Select(l => $"{l.Name}=\"{Escape(l.Value)}\""));

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = new (string, string)[tags.Length];
        for (var i = 0; i < tags.Length; i++)
        {
            labels[i] = (tags[i].Key.Replace('.', '_'), Convert.ToString(tags[i].Value, CultureInfo.InvariantCulture) ?? string.Empty);
        }
        Array.Sort(labels);
        return Labels(labels);
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public void Dispose()
    {
        _calls.StateChanged -= OnStateChanged;
        _listener.Dispose();
    }

    private sealed class Family(string type, string help)
    {
        public string Type { get; } = type;

        public string Help { get; } = help;

        public Dictionary<string, double> Values { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, Histogram> Histograms { get; } = new(StringComparer.Ordinal);

        public void Add(string labels, double value) => Values[labels] = Values.GetValueOrDefault(labels) + value;
    }

    private sealed class Histogram
    {
        public long[] Counts { get; } = new long[Buckets.Length + 1];

        public double Sum { get; private set; }

        public long Count { get; private set; }

        public void Observe(double value)
        {
            var i = 0;
            while (i < Buckets.Length && value > Buckets[i])
            {
                i++;
            }
            Counts[i]++;
            Sum += value;
            Count++;
        }
    }
}
