namespace Voice.Control.Tests.Support;

/// <summary>Upper bounds for waiting on async steps, so a broken client fails a test instead of hanging CI.</summary>
public static class Timeouts
{
    public static TimeSpan Step { get; } = TimeSpan.FromSeconds(5);

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Step);

    public static Task Within(this Task task) => task.WaitAsync(Step);
}
