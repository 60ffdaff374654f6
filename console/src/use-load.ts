import { useCallback, useEffect, useState } from 'preact/hooks';

export interface Loaded<T> {
  data?: T;
  error?: Error;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change (and on reload()), keeping the last good data while it runs again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: Error) => live && setState((s) => ({ ...s, error, loading: false })),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** Calls `f` every `ms` while the component is shown (executions in progress). */
export function useInterval(f: () => void, ms: number | null): void {
  useEffect(() => {
    if (ms === null) return;
    const id = setInterval(f, ms);
    return () => clearInterval(id);
  }, [f, ms]);
}

/** Runs a change, then `after` (a reload); keeps the last failure to show. Answers whether it worked. */
export function useAction(after: () => void): { error?: Error; run: (f: () => Promise<unknown>) => Promise<boolean> } {
  const [error, setError] = useState<Error>();
  const run = async (f: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await f();
      after();
      return true;
    } catch (e) {
      setError(e as Error);
      return false;
    }
  };
  return { ...(error && { error }), run };
}
