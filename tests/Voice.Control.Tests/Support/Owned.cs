namespace Voice.Control.Tests.Support;

/// <summary>What a test made and must release after it: the last made is released first.</summary>
public sealed class Owned
{
    private readonly List<IAsyncDisposable> _items = [];

    public T Add<T>(T item)
        where T : IAsyncDisposable
    {
        _items.Add(item);
        return item;
    }

    public async Task DisposeAllAsync()
    {
        foreach (var item in Enumerable.Reverse(_items))
        {
            await item.DisposeAsync();
        }
        _items.Clear();
    }
}
