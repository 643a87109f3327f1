namespace LicenseServer.IntegrationTests.Support;

/// <summary>The real clock moved by an offset the test sets: time still passes, but a test can jump days ahead.</summary>
public sealed class TestClock : TimeProvider
{
    private long _offsetTicks;

    public TimeSpan Offset
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
        set => Interlocked.Exchange(ref _offsetTicks, value.Ticks);
    }

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Offset;

    /// <summary>Moves the clock so that now is <paramref name="at"/>.</summary>
    public void SetNow(DateTimeOffset at) => Offset = at - base.GetUtcNow();
}
