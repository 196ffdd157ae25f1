import { Module, type DynamicModule } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { AdminCoreModule } from './admin-core.module';
import type { AdminTokens } from './auth/admin-tokens';
import { CutoverApiModule } from './cutover/cutover-api.module';
import { JobsApiModule } from './jobs/jobs-api.module';
import { OpenApiModule } from './openapi/openapi.module';
import { StatusPageModule } from './page/status-page.module';
import { QuarantineApiModule } from './quarantine/quarantine-api.module';
import { ReconcileApiModule } from './reconcile/reconcile-api.module';
import { ReplayApiModule } from './replay/replay-api.module';
import { StatusApiModule } from './status/status-api.module';

/**
 * `tandem serve`: the admin API, the status page at / and /metrics, on the composition root `root`
 * (TandemModule: the configuration, the shared pools and Kafka client, every capability's service).
 */
@Module({})
export class AdminAppModule {
  static forRoot(root: DynamicModule, tokens: AdminTokens): DynamicModule {
    return {
      module: AdminAppModule,
      imports: [
        root,
        AdminCoreModule.forRoot(tokens),
        StatusApiModule,
        QuarantineApiModule,
        ReconcileApiModule,
        CutoverApiModule,
        ReplayApiModule,
        JobsApiModule,
        OpenApiModule,
        StatusPageModule,
        MetricsModule,
      ],
    };
  }
}
