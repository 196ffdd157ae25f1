// The producer thread's first import: it must run before anything loads kafkajs.
import { installKafkajsPatches } from './kafkajs-patches';
import { installProduceRequestEncoder } from './produce-request-encoder';
import { installRequestFraming } from './request-framing';

installKafkajsPatches();
installProduceRequestEncoder();
installRequestFraming();
