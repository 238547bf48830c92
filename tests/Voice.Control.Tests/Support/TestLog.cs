using Microsoft.Extensions.Logging;

namespace Voice.Control.Tests.Support;

/// <summary>Loggers that write to the NUnit test output, so a failing test shows what the client logged.</summary>
public static class TestLog
{
    public static ILoggerFactory Factory { get; } = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new NUnitProvider()));

    public static ILogger<T> For<T>() => Factory.CreateLogger<T>();

    /// <summary>Loggers that also keep every line, for tests that assert what an operator would read in the log.</summary>
    public sealed class Capture
    {
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lines)
                {
                    return [.. _lines];
                }
            }
        }

        public ILogger<T> For<T>() => new Logger<T>(LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug)
            .AddProvider(new NUnitProvider()).AddProvider(new KeepingProvider(this))));

        private sealed class KeepingProvider(Capture capture) : ILoggerProvider
        {
            public ILogger CreateLogger(string categoryName) => new KeepingLogger(capture);

            public void Dispose()
            {
            }
        }

        private sealed class KeepingLogger(Capture capture) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (capture._lines)
                {
                    capture._lines.Add($"{logLevel}: {formatter(state, exception)}");
                }
            }
        }
    }

    private sealed class NUnitProvider : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new NUnitLogger(categoryName[(categoryName.LastIndexOf('.') + 1)..]);

        public void Dispose()
        {
        }
    }

    private sealed class NUnitLogger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            TestContext.Progress.WriteLine($"[{DateTime.Now:HH:mm:ss.fff} {logLevel} {category}] {formatter(state, exception)}{(exception is null ? "" : " " + exception.Message)}");
    }
}
