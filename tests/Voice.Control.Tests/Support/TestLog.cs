using Microsoft.Extensions.Logging;

namespace Voice.Control.Tests.Support;

/// <summary>Loggers that write to the NUnit test output, so a failing test shows what the client logged.</summary>
public static class TestLog
{
    public static ILoggerFactory Factory { get; } = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new NUnitProvider()));

    public static ILogger<T> For<T>() => Factory.CreateLogger<T>();

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
