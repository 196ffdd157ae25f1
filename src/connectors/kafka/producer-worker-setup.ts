// The producer thread's first import: it must run before anything loads kafkajs.
import { installLinearGrouping } from './kafkajs-linear-grouping';
import { installProduceRequestEncoder } from './produce-request-encoder';
import { installRequestFraming } from './request-framing';

installLinearGrouping();
installProduceRequestEncoder();
installRequestFraming();
