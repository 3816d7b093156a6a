import { trace, type Tracer, type TracerProvider } from '@opentelemetry/api';

/** Returns this package's tracer from the given provider, or the global one. */
export function getTracer(provider: TracerProvider | undefined): Tracer {
  return (provider ?? trace.getTracerProvider()).getTracer(
    __PACKAGE_NAME__,
    __PACKAGE_VERSION__,
  );
}
