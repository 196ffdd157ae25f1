/** Nest's lifecycle hooks, looked up on every provider at start and shutdown: they must not create the instance. */
const NOT_CREATING = new Set<string | symbol>([
  'onModuleInit',
  'onApplicationBootstrap',
  'onModuleDestroy',
  'beforeApplicationShutdown',
  'onApplicationShutdown',
  'then',
]);

export interface Lazy<T> {
  /** The instance, for the provider; created on its first use. */
  readonly proxy: T;
  /** The instance if it was created. */
  created(): T | null;
}

/**
 * A provider value created on first use, for services whose construction costs or refuses a
 * configuration (status loads every projection definition, the dead-letter service needs target.url):
 * a command that never uses them must not pay for them or fail on them, although the application
 * context instantiates every provider at start.
 */
export function lazyInstance<T extends object>(type: abstract new (...args: never[]) => T, create: () => T): Lazy<T> {
  let instance: T | null = null;
  const proxy = new Proxy(Object.create(type.prototype) as T, {
    get(_target, property) {
      if (instance === null && NOT_CREATING.has(property)) return undefined;
      instance ??= create();
      const value = Reflect.get(instance, property, instance) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(instance) : value;
    },
  });
  return { proxy, created: () => instance };
}
