import { Inject, Module, type DynamicModule, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { ConfigModule, TANDEM_CONFIG, TANDEM_LOGGER } from '../modules/config/config.module';
import type { TandemConfig } from '../modules/config/config.schema';
import type { Logger } from '../shared/logger';
import { TandemResources } from '../modules/core/tandem-resources';
import { ReconciliationService } from '../modules/reconciliation/reconciliation.service';
import { CutoverService } from '../modules/cutover/cutover.service';
import { ReplayService } from '../modules/replay/replay.service';
import { StatusService } from '../modules/status/status.service';
import { ProjectionService } from '../modules/projection/projection.service';
import { DeadLetterService, deadLetterService } from '../modules/projection/dead-letter.service';
import { CaptureService } from '../modules/capture/capture.service';
import { FailbackService } from '../modules/failback/failback.service';
import { ImportService } from '../modules/import/import.service';
import { lazyInstance, type Lazy } from './lazy-instance';

/** The services made on first use (their constructors refuse some configurations) and closed at shutdown if made. */
export const LAZY_SERVICES = Symbol('LAZY_SERVICES');
type Closable = { close(): Promise<void> };

const child = (logger: Logger, module: string) => logger.child({ module });

/** A capability made from the configuration, its logger (with its module name) and the shared resources. */
function service<T>(
  type: abstract new (...args: never[]) => T,
  make: (config: TandemConfig, logger: Logger, resources: TandemResources) => T,
): Provider {
  return { provide: type, inject: [TANDEM_CONFIG, TANDEM_LOGGER, TandemResources], useFactory: make };
}

function lazyService<T extends object>(
  type: abstract new (...args: never[]) => T,
  make: (config: TandemConfig, logger: Logger, resources: TandemResources) => T,
): Provider {
  return {
    provide: type,
    inject: [TANDEM_CONFIG, TANDEM_LOGGER, TandemResources, LAZY_SERVICES],
    useFactory: (config: TandemConfig, logger: Logger, resources: TandemResources, lazies: Lazy<object>[]) => {
      const lazy = lazyInstance(type, () => make(config, logger, resources));
      lazies.push(lazy);
      return lazy.proxy;
    },
  };
}

/**
 * The composition root: one TandemResources (target pool, source pool, Kafka client) per process and
 * one service per capability over it. The CLI runs each command in an application context of this
 * module (cli/run-in-context.ts); `tandem serve` builds the admin server on it.
 */
@Module({})
export class TandemModule implements OnApplicationShutdown {
  constructor(
    @Inject(LAZY_SERVICES) private readonly lazies: Lazy<object>[],
    @Inject(TandemResources) private readonly resources: TandemResources,
  ) {}

  static forConfig(config: TandemConfig): DynamicModule {
    const providers: Provider[] = [
      TandemResources,
      { provide: LAZY_SERVICES, useValue: [] },
      service(ReconciliationService, (c, l, r) => new ReconciliationService(c, child(l, 'reconcile'), r)),
      service(CutoverService, (c, l, r) => new CutoverService(c, child(l, 'cutover'), r)),
      service(CaptureService, (c, l) => new CaptureService(c, child(l, 'capture'))),
      service(ImportService, (c, l, r) => new ImportService(c, child(l, 'import'), r)),
      lazyService(ProjectionService, (c, l, r) => new ProjectionService(c, child(l, 'projection'), r)),
      lazyService(ReplayService, (c, l, r) => new ReplayService(c, child(l, 'replay'), r)),
      lazyService(StatusService, (c, l, r) => new StatusService(c, child(l, 'status'), r)),
      lazyService(FailbackService, (c, l, r) => new FailbackService(c, child(l, 'failback'), r)),
      lazyService(DeadLetterService, (c, _l, r) => deadLetterService(r, c)),
    ];
    return {
      module: TandemModule,
      global: true,
      imports: [ConfigModule.forConfig(config)],
      providers,
      exports: [ConfigModule, ...providers.map((p) => (typeof p === 'function' ? p : (p as { provide: unknown }).provide as never))],
    };
  }

  /**
   * The services that run something (projectors, status sampling, failback) stop first, then the
   * shared pools close: Nest calls this module's hook after its providers' hooks.
   */
  async onApplicationShutdown(): Promise<void> {
    try {
      for (const lazy of this.lazies) {
        const made = lazy.created() as Partial<Closable> | null;
        if (made && typeof made.close === 'function') await made.close();
      }
    } finally {
      await this.resources.close();
    }
  }
}
