namespace Voice.Control.Tests.Support;

/// <summary>Upper bounds for waiting on async steps, so a broken client fails a test instead of hanging CI.</summary>
public static class Timeouts
{
    public static TimeSpan Step { get; } = TimeSpan.FromSeconds(5);

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Step);

    public static Task Within(this Task task) => task.WaitAsync(Step);
}

/// <summary>Waits for a condition the code under test makes true asynchronously, bounded like every step.</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeouts.Step;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("the condition did not become true in time");
            }
            await Task.Delay(10);
        }
    }
}
