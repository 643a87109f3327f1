namespace LicenseServer.Testing;

/// <summary>
/// The one clock of the tests. By default the real clock moved by an offset the test sets, so time still passes
/// (a server's timers and leases run) while a test jumps days ahead; <see cref="StoppedAt"/> makes a clock that
/// shows one time until the test moves it, for rules that are checked against an exact instant.
/// </summary>
public sealed class TestClock : TimeProvider
{
    private const long Running = long.MinValue;
    private long _offsetTicks;
    private long _stoppedAtTicks = Running;

    public static TestClock StoppedAt(DateTimeOffset at) => new() { _stoppedAtTicks = at.UtcTicks };

    public TimeSpan Offset
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
        set => Interlocked.Exchange(ref _offsetTicks, value.Ticks);
    }

    public override DateTimeOffset GetUtcNow() => Interlocked.Read(ref _stoppedAtTicks) is var stopped and not Running
        ? new DateTimeOffset(stopped, TimeSpan.Zero)
        : base.GetUtcNow() + Offset;

    /// <summary>What the clock shows now; setting it moves the clock there (and a stopped clock stays there).</summary>
    public DateTimeOffset Now
    {
        get => GetUtcNow();
        set => SetNow(value);
    }

    /// <summary>Stops the clock at <paramref name="at"/>: from now on it moves only when the test moves it.</summary>
    public void Stop(DateTimeOffset at) => Interlocked.Exchange(ref _stoppedAtTicks, at.UtcTicks);

    /// <summary>Moves the clock so that now is <paramref name="at"/>.</summary>
    public void SetNow(DateTimeOffset at)
    {
        if (Interlocked.Read(ref _stoppedAtTicks) != Running) Interlocked.Exchange(ref _stoppedAtTicks, at.UtcTicks);
        else Offset = at - base.GetUtcNow();
    }
}
