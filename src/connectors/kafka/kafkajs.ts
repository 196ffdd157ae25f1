// kafkajs with Tandem's produce path (kafkajs-patches.ts). Load kafkajs through this module only:
// the patch takes effect only if it runs before kafkajs is first loaded.
import { installKafkajsPatches } from './kafkajs-patches';

installKafkajsPatches();

export * from 'kafkajs';
