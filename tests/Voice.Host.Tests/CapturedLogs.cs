using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Voice.Host.Tests;

/// <summary>Every line a host logs, with the values of the scopes it was logged in (trace and span ids, call id), as a structured logger receives them.</summary>
public sealed class CapturedLogs : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<Entry> _entries = new();
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public IReadOnlyList<Entry> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    /// <summary>One line.</summary>
    /// <param name="Category">The logger's category.</param>
    /// <param name="EventId">The line's event id.</param>
    /// <param name="Message">The line as formatted.</param>
    /// <param name="Scopes">The values of every scope around the line (an inner scope's value wins).</param>
    public sealed record Entry(string Category, EventId EventId, string Message, IReadOnlyDictionary<string, string?> Scopes);

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scopes = new Dictionary<string, string?>(StringComparer.Ordinal);
            owner._scopes.ForEachScope((scope, values) =>
            {
                if (scope is IEnumerable<KeyValuePair<string, object?>> pairs)
                {
                    foreach (var (key, value) in pairs)
                    {
                        values[key] = value?.ToString();
                    }
                }
            }, scopes);
            owner._entries.Enqueue(new Entry(category, eventId, formatter(state, exception), scopes));
        }
    }
}
