// Two test classes run at a time. A class's tests share nothing with another class's: each test has its own
// server, on its own database, with its own clock, and each mail-reading class its own MailDev. One test runs a
// request at a time most of the time, so one class at a time left a core of the machine idle (the run used
// under one core of two on average).
//
// Classes and tests marked [NonParallelizable] run alone, after or before the others, because they either time
// what they see (leases of a few seconds, answer times, a kill mid-load), take every core, build into bin/, or
// touch what the process shares: the log configuration, the environment, every connection pool.
[assembly: Parallelizable(ParallelScope.Fixtures)]
[assembly: LevelOfParallelism(2)]
