import { BadRequestException, Controller, Get, Inject, NotFoundException, Param } from '@nestjs/common';
import { JobRegistry, type Job } from './job-registry';

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

@Controller('api/jobs')
export class JobsController {
  constructor(@Inject(JobRegistry) private readonly jobs: JobRegistry) {}

  @Get(':id')
  job(@Param('id') id: string): Job {
    if (!JOB_ID.test(id)) throw new BadRequestException('id: must be a job id (a UUID from the 202 answer)');
    const job = this.jobs.get(id);
    if (!job) throw new NotFoundException(`no job ${id} (jobs are kept in memory until the server restarts)`);
    return job;
  }
}
