#!/usr/bin/env python3
"""Hostile clients against one HTTP server on 127.0.0.1, and a probe that times real requests.

Opens IDLE connections that never send a byte and SLOW connections that send a request header
one byte per second (slowloris), reopening any the server closes, for DURATION seconds at most.
Meanwhile it times GETs of the given paths (each on a new connection) and prints, per path, the
median, 90th percentile and maximum latency in milliseconds and the failures, then how many hostile connections
the server closed. Loopback only; counts and time are bounded by the arguments.
"""
import argparse
import asyncio
import statistics
import time


async def idle(port, closed, stop):
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        try:
            while not stop.is_set():
                try:
                    data = await asyncio.wait_for(reader.read(4096), 0.5)
                    if not data:
                        closed[0] += 1
                        break
                except asyncio.TimeoutError:
                    pass
        except OSError:
            closed[0] += 1
        finally:
            writer.close()


async def slowloris(port, closed, stop):
    header = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000 + b"\r\n\r\n"
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        try:
            for i in range(len(header) - 2):  # never complete the header
                if stop.is_set():
                    break
                writer.write(header[i:i + 1])
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(4096), 1.0)
                    if not data or data.startswith(b"HTTP/"):
                        closed[1] += 1
                        break
                except asyncio.TimeoutError:
                    pass
        except OSError:
            closed[1] += 1
        finally:
            writer.close()


async def timed_get(port, path, timeout):
    start = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
        writer.close()
        ok = data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200")
        return (time.monotonic() - start) * 1000, ok
    except (OSError, asyncio.TimeoutError):
        return (time.monotonic() - start) * 1000, False


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--slow", type=int, default=1000)
    parser.add_argument("--paths", default="/metrics,/healthz")
    parser.add_argument("--probes", type=int, default=20, help="GETs per path")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before probing")
    parser.add_argument("--timeout", type=float, default=5.0, help="per probe")
    args = parser.parse_args()

    closed = [0, 0]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(idle(args.port, closed, stop)) for _ in range(args.idle)]
    tasks += [asyncio.create_task(slowloris(args.port, closed, stop)) for _ in range(args.slow)]
    await asyncio.sleep(args.settle)
    for path in args.paths.split(","):
        latencies, failures = [], 0
        for _ in range(args.probes):
            ms, ok = await timed_get(args.port, path, args.timeout)
            latencies.append(ms)
            failures += 0 if ok else 1
            await asyncio.sleep(0.1)
        p90 = sorted(latencies)[int(0.9 * (len(latencies) - 1))]
        print(f"{path} median_ms={statistics.median(latencies):.1f} p90_ms={p90:.1f} "
              f"max_ms={max(latencies):.1f} failures={failures}/{args.probes}", flush=True)
    print(f"hostile_closed_by_server idle={closed[0]} slow={closed[1]}", flush=True)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())
